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
    user_status,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (
    departments.router,
    users.router,
    user_status.router,
    extensions.router,
    numbers.router,
    search.router,
    spreadsheets.router,
    changes.router,
    contacts.router,
)
