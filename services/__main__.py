"""`python -m services`: run the service named by $SERVICE (orders, users or payments).

The one image for all three services uses this as its command.
"""

import os
import runpy
import sys

SERVICES = ("orders", "users", "payments")


def main() -> None:
    name = os.environ.get("SERVICE", "").strip()
    if name not in SERVICES:
        sys.exit(f"SERVICE must be one of {', '.join(SERVICES)} (got {name!r})")
    os.environ.setdefault("SERVICE_NAME", name)
    runpy.run_module(f"services.{name}", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
