"""A JPEG's metadata removed without touching its pixels: the segments a decoder needs are copied,
every APPn (EXIF with GPS, XMP, ICC, IPTC, JFIF...) and comment is dropped, nothing after the end
of the image survives. Like `jpegtran -copy none`, in pure Python.

For photos that need neither shrinking nor rotating: re-encoding them would cost CPU on the
critical path, add a generation of loss and (at quality 90) often grow the file.
"""

from __future__ import annotations

import re

# Segments a decoder needs: SOFn (frame), DHT, DAC (tables), DQT, DRI; SOS is handled apart.
_KEPT = frozenset({*range(0xC0, 0xD0)} - {0xC8}) | {0xDB, 0xDD}
_DROPPED = frozenset(range(0xE0, 0xF0)) | {0xFE}  # APP0-APP15, COM
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
# The end of entropy-coded data: a marker that is neither a stuffed 0xFF00 nor a restart (RST0-7).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def strip_metadata(data: bytes) -> bytes | None:
    """`data` without its metadata segments, ending at its EOI marker.

    Returns None for anything but a well-formed segment sequence of known markers ending in EOI
    (the caller then re-encodes from decoded pixels, which is always safe).
    """
    if data[:2] != b"\xff\xd8":
        return None
    kept = [b"\xff\xd8"]
    pos, size = 2, len(data)
    while pos < size:
        if data[pos] != 0xFF:
            return None
        while pos < size and data[pos] == 0xFF:  # fill bytes before a marker are allowed
            pos += 1
        if pos >= size:
            return None
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            kept.append(b"\xff\xd9")
            return b"".join(kept)
        if marker == _SOI or pos + 2 > size:
            return None
        length = int.from_bytes(data[pos : pos + 2], "big")
        end = pos + length
        if length < 2 or end > size:
            return None
        if marker == _SOS:
            found = _SCAN_END.search(data, end)
            if found is None:
                return None  # truncated scan
            kept.append(data[pos - 2 : found.start()])
            pos = found.start()
            continue
        if marker in _KEPT:
            kept.append(data[pos - 2 : end])
        elif marker not in _DROPPED:
            return None
        pos = end
    return None
