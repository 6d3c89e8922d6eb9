"""Storage adapters: the repository of records and the blob store of image files."""
