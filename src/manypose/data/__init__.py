"""Image reading with clear errors, and the input spec and geometry shared by inference and training."""
