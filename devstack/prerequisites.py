"""Say clearly what is missing for the local stack, instead of hanging later."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def problems() -> list[str]:
    found: list[str] = []
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        found.append(
            "gcloud not found on PATH: install the Google Cloud CLI "
            "(https://cloud.google.com/sdk/docs/install)"
        )
    else:
        sdk_platform = Path(gcloud).resolve().parent.parent / "platform"
        for component, folder in (
            ("pubsub-emulator", "pubsub-emulator"),
            ("cloud-firestore-emulator", "cloud-firestore-emulator"),
        ):
            if not (sdk_platform / folder).is_dir():
                found.append(
                    f"the {component} component of the Google Cloud CLI is missing: "
                    f"gcloud components install {component} (or your package manager's "
                    f"google-cloud-cli-{component.removeprefix('cloud-')} package)"
                )
    if shutil.which("java") is None:
        found.append("java not found on PATH: the Pub/Sub and Firestore emulators need Java 11+")
    else:
        version = subprocess.run(
            ["java", "-version"], capture_output=True, text=True, timeout=30, check=False
        )
        if version.returncode != 0:
            found.append(f"java does not run: {version.stderr.strip()[:200]}")
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
