"""Text encoders (representations only; losses live elsewhere)."""
