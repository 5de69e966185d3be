"""Work pools and their base job templates."""
