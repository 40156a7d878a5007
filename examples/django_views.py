"""Django: enqueue from a view through the sync API, after the transaction commits.

`transaction.on_commit` enqueues only if the request's transaction commits, so a rolled
back order never sends an invoice. Settings: `ATOMIC_REQUESTS = True` (or an explicit
`transaction.atomic()` block), `ROOT_URLCONF = "examples.django_views"`. The worker is a
separate process: `jobs worker --app examples.jobs_app:jobs jobs_data`.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from .jobs_app import Invoice, jobs, send_invoice


def place_order(request: HttpRequest) -> HttpResponse:
    order_id = int(request.POST["order_id"])
    # ... save the order with the ORM here ...
    transaction.on_commit(
        lambda: jobs.sync.enqueue(
            send_invoice, Invoice(order_id, request.POST["email"]), ref_id=f"invoice-{order_id}"
        )
    )
    if request.POST.get("fail"):
        raise RuntimeError("payment declined")  # rolls back: no invoice is enqueued
    return JsonResponse({"order_id": order_id}, status=202)


def invoice_state(request: HttpRequest, order_id: int) -> HttpResponse:
    found = jobs.sync.get_job_by_ref(f"invoice-{order_id}")
    return JsonResponse({"state": found.state.value})


urlpatterns = [
    path("orders", place_order),
    path("orders/<int:order_id>/invoice", invoice_state),
]
