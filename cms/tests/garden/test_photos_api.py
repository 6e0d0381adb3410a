"""Plant photos: real images only, re-encoded without metadata, private to their owner."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from plant_cms.garden.models import PlantPhoto
from plant_cms.garden.photos import MAX_PHOTOS_PER_PLANT
from plant_cms.garden.storage import garden_photo_storage

pytestmark = pytest.mark.django_db


def image_bytes(fmt="JPEG", size=(64, 48), mode="RGB", **save):
    out = io.BytesIO()
    Image.new(mode, size, color=(40, 160, 60) if mode == "RGB" else 0).save(out, fmt, **save)
    return out.getvalue()


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPSLatitude
    return exif.tobytes()


def upload(member, plant_id, content, name="photo.jpg", content_type="image/jpeg", **fields):
    return member.upload(f"/api/v1/garden/plants/{plant_id}/photos/", {"image": SimpleUploadedFile(name, content, content_type=content_type)}, **fields)


def test_a_photo_is_stored_re_encoded_without_exif_and_upright(member):
    plant = member.add_plant()

    response = upload(member, plant["id"], image_bytes(size=(64, 48), exif=gps_exif()), caption="<i>New</i> leaf", taken_on="2026-05-01")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == "image/jpeg" and (body["width"], body["height"]) == (48, 64)  # orientation applied
    assert body["caption"] == "New leaf" and body["taken_on"] == "2026-05-01"
    stored = PlantPhoto.objects.get(pk=body["id"])
    with garden_photo_storage().open(stored.image.name, "rb") as handle:
        data = handle.read()
    assert b"PhoneMaker" not in data and not Image.open(io.BytesIO(data)).getexif()
    assert stored.image.name.startswith(f"{member.sub}/") and stored.image.name.endswith(".jpg")
    listed = member.get(f"/api/v1/garden/plants/{plant['id']}/")
    assert [p["id"] for p in listed.json()["photos"]] == [body["id"]]


def test_the_owner_downloads_the_image_and_nobody_else_does(member, other_member):
    plant = member.add_plant()
    photo = upload(member, plant["id"], image_bytes("PNG"), name="x.png", content_type="image/png").json()
    url = f"/api/v1/garden/plants/{plant['id']}/photos/{photo['id']}/image/"

    mine = member.get(url, HTTP_ACCEPT="image/*")
    theirs = other_member.get(url)
    anonymous = member.client.get(url)

    assert mine.status_code == 200 and mine["Content-Type"] == "image/png" and mine["X-Content-Type-Options"] == "nosniff"
    assert b"".join(mine.streaming_content).startswith(b"\x89PNG")
    assert "private" in mine["Cache-Control"]
    assert photo["image_url"].endswith(url)
    assert theirs.status_code == 404 and anonymous.status_code == 401


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"<?php system($_GET['c']); ?>", "shell.jpg", "not an image"),
        (b"%PDF-1.4 fake", "doc.png", "not an image"),
        (image_bytes("GIF", mode="P"), "anim.gif", "Only JPEG, PNG and WebP"),
        (image_bytes("BMP"), "x.bmp", "Only JPEG, PNG and WebP"),
        (image_bytes()[:200], "cut.jpg", "damaged"),
        (image_bytes("PNG", size=(8000, 6000), mode="1"), "huge.png", "million pixels"),
        (b"", "empty.jpg", None),
    ],
)
def test_files_that_are_not_acceptable_images_are_400(member, content, name, message):
    plant = member.add_plant()

    response = upload(member, plant["id"], content, name=name)

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]["image"]
    if message:
        assert message in errors[0]
    assert not PlantPhoto.objects.exists()


def test_a_file_over_the_size_cap_is_400(member, settings):
    plant = member.add_plant()
    big = image_bytes() + b"\0" * (10 * 1024 * 1024)

    response = upload(member, plant["id"], big)

    assert response.status_code == 400 and "larger than 10 MB" in response.json()["errors"]["image"][0]


def test_photo_fields_are_strict(member):
    plant = member.add_plant()

    unknown = upload(member, plant["id"], image_bytes(), colour="green")
    missing = member.upload(f"/api/v1/garden/plants/{plant['id']}/photos/", {}, caption="no file")

    assert unknown.status_code == 400 and "colour" in unknown.json()["errors"]
    assert missing.status_code == 400 and "image" in missing.json()["errors"]


def test_photos_of_another_members_plant_are_not_found(member, other_member):
    theirs = other_member.add_plant()
    photo = upload(other_member, theirs["id"], image_bytes()).json()
    base = f"/api/v1/garden/plants/{theirs['id']}/photos/"

    assert member.get(base).status_code == 404
    assert upload(member, theirs["id"], image_bytes()).status_code == 404
    assert member.get(f"{base}{photo['id']}/").status_code == 404
    assert member.patch(f"{base}{photo['id']}/", {"caption": "mine"}).status_code == 404
    assert member.delete(f"{base}{photo['id']}/").status_code == 404
    assert PlantPhoto.objects.filter(owner_sub=member.sub).count() == 0 and PlantPhoto.objects.count() == 1


def test_caption_edit_and_delete_removes_the_file(member, django_capture_on_commit_callbacks):
    plant = member.add_plant()
    photo = upload(member, plant["id"], image_bytes()).json()
    url = f"/api/v1/garden/plants/{plant['id']}/photos/{photo['id']}/"
    name = PlantPhoto.objects.get(pk=photo["id"]).image.name

    edited = member.patch(url, {"caption": "Better"})
    replaced = member.patch(url, {"image": "x"})
    with django_capture_on_commit_callbacks(execute=True):
        deleted = member.delete(url)

    assert edited.status_code == 200 and edited.json()["caption"] == "Better"
    assert replaced.status_code == 400
    assert deleted.status_code == 204 and not PlantPhoto.objects.filter(pk=photo["id"]).exists()
    assert not garden_photo_storage().exists(name)


def test_a_plant_holds_a_bounded_number_of_photos(member):
    plant = member.add_plant()
    content = image_bytes(size=(8, 8))
    for _ in range(MAX_PHOTOS_PER_PLANT):
        assert upload(member, plant["id"], content).status_code == 201

    response = upload(member, plant["id"], content)

    assert response.status_code == 400 and PlantPhoto.objects.filter(plant_id=plant["id"]).count() == MAX_PHOTOS_PER_PLANT
