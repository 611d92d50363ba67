"""The directory's HTTP routes, one module per resource."""

from fastapi import APIRouter

from zongji.directory.routes import (
    changes,
    contacts,
    departments,
    extensions,
    numbers,
    search,
    spreadsheets,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (
    departments.router,
    users.router,
    extensions.router,
    numbers.router,
    search.router,
    spreadsheets.router,
    changes.router,
    contacts.router,
)
