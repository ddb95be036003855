"""Query understanding: spelling correction and slot tagging built from the catalogue."""
