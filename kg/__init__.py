"""kgreason: knowledge-graph augmented reasoning over your documents.

>>> import kg
>>> kg.__version__
'0.1.0'
"""
__version__ = "0.1.0"
