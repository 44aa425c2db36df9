"""The image builder behind kind/images.py, by domain: recipes, layers, Debian, archives."""
