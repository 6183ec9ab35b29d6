"""Resolving operator-given names of lists and categories, with helpful refusals."""

from __future__ import annotations

from hashcheck.admin.errors import UnknownName
from hashcheck.catalog.model import Category, HashList
from hashcheck.store.interface import Store


def find_list(store: Store, name: str) -> HashList:
    lists = store.lists()
    for item in lists:
        if item.name == name:
            return item
    known = ", ".join(item.name for item in lists) or "(none yet; create one with `lists add`)"
    raise UnknownName(f"unknown list {name!r}; known lists: {known}")


def find_category(store: Store, name: str) -> Category:
    categories = store.categories()
    for item in categories:
        if item.name == name:
            return item
    known = ", ".join(item.name for item in categories)
    raise UnknownName(f"unknown category {name!r}; known categories: {known}")
