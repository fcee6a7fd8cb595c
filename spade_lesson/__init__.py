"""spade-lesson: the building blocks of the SPADE course (Park et al., CVPR 2019)."""

__version__ = "0.1.0"
