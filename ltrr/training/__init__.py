"""Training-side jobs built on Lightning (a leaf layer): distributed corpus encoding."""
