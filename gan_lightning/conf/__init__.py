# Hydra configs, shipped inside the package so they work after a wheel install.
