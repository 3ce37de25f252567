"""One env on disk: its layout, its lock, how it is built and installed into, the project wheel
cache, the bytecode memo, the inventory of envs (docs/architecture.md).
"""
