"""What a job is given and what it reads: the spec (TOML, validated on load) and the dataset assembled from it."""
