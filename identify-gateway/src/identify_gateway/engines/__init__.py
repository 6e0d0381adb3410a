"""Identification engines (Plant.id v3, Pl@ntNet v2): clients, breakers and their state."""
