"""Supplier file formats: streaming parsers that turn a file into hash entries. No storage."""
