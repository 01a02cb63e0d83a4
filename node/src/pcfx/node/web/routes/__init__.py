"""The web app's routes, one module per area; thin: views read, actions act."""
