"""Each supplier's category map: which of its own category values means which category."""

from __future__ import annotations

from hashcheck.admin.errors import UnknownName
from hashcheck.admin.names import find_category
from hashcheck.admin.records import NOT_IMPORTED_NAME
from hashcheck.store.interface import NOT_IMPORTED, Store


def known_suppliers(store: Store) -> list[str]:
    return sorted({item.supplier for item in store.lists()})


def _require_supplier(store: Store, supplier: str) -> None:
    suppliers = known_suppliers(store)
    if supplier not in suppliers:
        raise UnknownName(
            f"unknown supplier {supplier!r}; suppliers of existing lists: "
            f"{', '.join(suppliers) or '(none yet)'}"
        )


def map_value(store: Store, supplier: str, value: str, category: str, *, actor: str) -> bool:
    """Map a supplier value to a category, or with `not-imported` to "not abuse material":
    an item delivered with it leaves the list."""
    _require_supplier(store, supplier)
    if category == NOT_IMPORTED_NAME:
        return store.set_category_mapping(supplier, value, NOT_IMPORTED, actor=actor)
    category_id = find_category(store, category).category_id
    return store.set_category_mapping(supplier, value, category_id, actor=actor)


def unmap_value(store: Store, supplier: str, value: str, *, actor: str) -> bool:
    _require_supplier(store, supplier)
    return store.set_category_mapping(supplier, value, None, actor=actor)


def show(store: Store, supplier: str) -> list[tuple[str, str]]:
    _require_supplier(store, supplier)
    names = {c.category_id: c.name for c in store.categories()} | {NOT_IMPORTED: NOT_IMPORTED_NAME}
    return [(value, names[cid]) for value, cid in store.category_map(supplier).items()]
