"""The child process of the XLSX export benchmark. It is started with multiprocessing's
"spawn" method, so this module imports nothing from Django before django.setup() runs."""

import os
import resource
import time
from pathlib import Path


def peak_rss_kib() -> int:
    """Return the peak resident memory of this process image in KiB (VmHWM).

    ru_maxrss would not do: Linux carries it over exec from the forked copy of the parent, so
    a spawned child starts with the parent's resident size as its maximum."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def xlsx_export_child(username: str, url: str, params: dict, results) -> None:
    """Run one export in a freshly started interpreter and put its figures on `results`, so
    the peak resident memory is that of a process serving only this export."""
    try:
        os.environ.setdefault("DJANGO_DEBUG", "0")
        import django

        django.setup()
        from django.test import Client
        from django.test.utils import override_settings

        from portal.models import User

        # EXPORT_BACKGROUND_ROWS=0 writes the export in the request instead of handing it to
        # a Celery worker, so this process does, and measures, the whole work.
        with override_settings(
            DEBUG=False, ALLOWED_HOSTS=["testserver"], ROOT_URLCONF="portal.urls", EXPORT_BACKGROUND_ROWS=0
        ):
            client = Client()
            client.force_login(User.objects.get(username=username))
            baseline_kib = peak_rss_kib()
            started = time.perf_counter()
            response = client.get(url, params)
            if response.streaming:
                size = sum(len(chunk) for chunk in response.streaming_content)
            else:
                size = len(response.content)
            seconds = time.perf_counter() - started
            client.logout()
        results.put({
            "status": response.status_code, "seconds": seconds, "bytes": size, "baseline_kib": baseline_kib,
            "peak_kib": peak_rss_kib(),
            "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        })
    except BaseException as error:  # noqa: BLE001 - any failure must reach the parent process
        results.put({"error": f"{type(error).__name__}: {error}"})
        raise
