"""Read Kubernetes snapshots (``kubectl get deployments -A -o json``) into landing-zone records.

A snapshot says what runs in a cluster now. ``lifecycle ingest-kubernetes`` turns each Deployment in it into one
captured request (``X-Lifecycle-Source: kubernetes``) that ``staging.kubernetes_deployments`` maps onto a
``deployed`` event, so a cluster nobody reports deployments for still gets deployments and a release inventory.

- **cluster**: a Kubernetes object does not name its cluster: ``--cluster``, else lifecycle.toml
  ``[kubernetes] files`` (a glob on the file name), else ``[kubernetes] cluster``.
- **deployed_at**: the ``Progressing`` condition's ``lastUpdateTime``. The deployment controller updates that
  condition while a new ReplicaSet rolls out and once more when the rollout completes (reason
  ``NewReplicaSetAvailable``), not on a scale — so it is when the running version was last rolled out. Without
  the condition (a Deployment never reconciled), ``metadata.creationTimestamp``.
- **delivery id**: ``<cluster>/<namespace>/<name>@<deployed_at>#<images>``: the same Deployment state in a later
  snapshot is a duplicate, a new image — or a rollback to an older one, which is a new rollout and so a new
  ``deployed_at`` — is a new event. Importing the same snapshot twice adds nothing (the ledger skips the same
  landing file, and the ids are the same anyway).

Pure: reads the snapshot, writes the landing file; no warehouse and no Dagster.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path


class SnapshotError(ValueError):
    """A file that is not a kubectl JSON snapshot, or a snapshot with no cluster to put it in."""


def read_snapshot(path: Path) -> tuple[list[dict], int]:
    """The Deployments of a ``kubectl get … -o json`` file (a v1 List, a DeploymentList or one Deployment), and
    how many other objects it held (skipped: only Deployments are read)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise SnapshotError(f"{path}: not JSON ({exc}); "
                            "expected the output of `kubectl get deployments -A -o json`") from None
    if not isinstance(doc, dict) or not (isinstance(doc.get("items"), list) or doc.get("kind") == "Deployment"):
        raise SnapshotError(f"{path}: not a Kubernetes List or Deployment (no `items`); "
                            "expected the output of `kubectl get deployments -A -o json`")
    items = doc["items"] if isinstance(doc.get("items"), list) else [doc]
    # kubectl names each item's kind; a DeploymentList read from the API directly does not
    default_kind = "Deployment" if doc.get("kind") == "DeploymentList" else None
    deployments = [i for i in items if isinstance(i, dict) and i.get("kind", default_kind) == "Deployment"]
    return deployments, len(items) - len(deployments)


def deployed_at(deployment: dict) -> str | None:
    """When the running version was last rolled out (see the module docstring)."""
    conditions = (deployment.get("status") or {}).get("conditions") or []
    progressing = next((c for c in conditions if c.get("type") == "Progressing"), {})
    return progressing.get("lastUpdateTime") or (deployment.get("metadata") or {}).get("creationTimestamp")


def images(deployment: dict) -> list[str]:
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return sorted(c["image"] for c in containers if c.get("image"))


def records(deployments: Iterable[dict], cluster: str, file: str) -> list[dict]:
    """One captured request per Deployment (managedFields dropped: bulky bookkeeping nobody reads)."""
    out = []
    for dep in deployments:
        md = dep.get("metadata") or {}
        obj = {**dep, "metadata": {k: v for k, v in md.items() if k != "managedFields"}}
        obj.setdefault("kind", "Deployment")
        at = deployed_at(dep)
        delivery = f"{cluster}/{md.get('namespace')}/{md.get('name')}@{at}#{','.join(images(dep))}"
        out.append({"headers": {"X-Lifecycle-Source": "kubernetes", "X-Lifecycle-Delivery": delivery},
                    "body": {"cluster": cluster, "file": file, "deployed_at": at, "object": obj}})
    return out


def write_landing_file(recs: list[dict], landing: Path, cluster: str) -> Path:
    """Write the records to ``landing/kubernetes/<cluster>/<content hash>.ndjson`` (atomic rename): the same
    snapshot gives the same file, which the loader's ledger skips."""
    text = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False, sort_keys=True) + "\n" for r in recs)
    folder = re.sub(r"[^a-z0-9._-]+", "_", cluster.lower()).lstrip(".") or "cluster"
    target = Path(landing) / "kubernetes" / folder / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.ndjson"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")  # hidden and *.tmp: no loader picks it up half-written
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target
