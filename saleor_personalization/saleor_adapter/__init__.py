"""Everything that touches Saleor's internals lives in this package.

Modules here import ``saleor`` only inside functions or in modules that are imported
only when Saleor is installed, so the rest of the package (and its tests) works
without Saleor; a Saleor upgrade changes this package and nothing else.
"""
