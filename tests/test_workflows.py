"""vrun's own workflows (CI, release) and the CI recipes of docs/ci.md are valid for GitHub and GitLab.

Offline: the schemas are the ones check-jsonschema vendors (SchemaStore's GitHub workflow and
GitLab CI schemas), read from the installed package; YAML is read with ruamel.yaml, which
check-jsonschema depends on (it reads YAML 1.2, where ``on:`` is a string, not True).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytest.importorskip("check_jsonschema")
jsonschema = pytest.importorskip("jsonschema")
ruamel_yaml = pytest.importorskip("ruamel.yaml")

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
RELEASE = REPO / ".github" / "workflows" / "release.yml"
CI_DOC = REPO / "docs" / "ci.md"


def load_yaml(text: str) -> Any:
    return ruamel_yaml.YAML(typ="safe", pure=True).load(text)


def vendored_schema(name: str) -> Any:
    """A schema check-jsonschema ships (``--builtin-schema vendor.NAME``), as a dict."""
    from importlib.resources import files

    resource = files("check_jsonschema.builtin_schemas.vendor") / f"{name}.json"
    return json.loads(resource.read_text(encoding="utf-8"))


def schema_errors(schema_name: str, document: Any) -> list[str]:
    schema = vendored_schema(schema_name)
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message[:300]}" for e in validator.iter_errors(document)]


def yaml_blocks(markdown: str) -> list[str]:
    """The bodies of the fenced ```yaml blocks of ``markdown``."""
    return re.findall(r"^```yaml\n(.*?)^```\s*$", markdown, flags=re.MULTILINE | re.DOTALL)


def is_github_workflow(document: Any) -> bool:
    return isinstance(document, dict) and "jobs" in document and "on" in document


def doc_blocks() -> list[Any]:
    return [load_yaml(block) for block in yaml_blocks(CI_DOC.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("workflow", [WORKFLOW, RELEASE], ids=lambda p: p.name)
def test_own_workflow_is_valid(workflow: Path) -> None:
    document = load_yaml(workflow.read_text(encoding="utf-8"))
    assert is_github_workflow(document)
    assert schema_errors("github-workflows", document) == []


@pytest.mark.parametrize("workflow", [WORKFLOW, RELEASE], ids=lambda p: p.name)
def test_own_workflow_with_check_jsonschema_cli(workflow: Path) -> None:
    """The same check as a contributor would run it: ``check-jsonschema --builtin-schema ...``."""
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which(
        "check-jsonschema"
    )
    if exe is None:
        pytest.skip("check-jsonschema's command is not installed next to this Python nor on PATH")
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_own_workflow_runs_the_default_sessions_and_reports() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "vrun list --json" in text
    assert '--report report.json --junitxml junit.xml "$SESSION"' in text
    # the shells the tmux tests drive (as .ci/run installs them)
    assert "apt-get install -y -qq tmux zsh fish tcsh" in text
    document = load_yaml(text)
    assert document["jobs"]["run"]["strategy"]["matrix"]["os"] == ["ubuntu-latest", "macos-latest"]


def test_release_workflow_builds_checks_and_publishes_with_trusted_publishing() -> None:
    """On a version tag: one job builds both dists and checks them (the tag, the changelog,
    ``twine check --strict``), the next uploads exactly those with PyPI's trusted publishing (an
    OIDC token, ``id-token: write`` for that job alone, no stored password)."""
    document = load_yaml(RELEASE.read_text(encoding="utf-8"))
    assert document["on"] == {"push": {"tags": ["v*"]}}
    assert document["permissions"] == {"contents": "read"}
    build, publish = document["jobs"]["build"], document["jobs"]["publish"]
    runs = [step.get("run", "") for step in build["steps"]]
    assert 'python tools/release.py check "$GITHUB_REF_NAME"' in runs
    assert "python -m build" in runs and "python -m twine check --strict dist/*" in runs
    assert 'python tools/release.py check "$GITHUB_REF_NAME" --dist dist' in runs
    assert runs.index("python -m build") < runs.index("python -m twine check --strict dist/*")
    assert "permissions" not in build
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    (upload,) = [step for step in publish["steps"] if "gh-action-pypi-publish" in step.get("uses", "")]
    assert upload["uses"] == "pypa/gh-action-pypi-publish@release/v1"
    assert "with" not in upload  # no password or token: trusted publishing
    uploaded = next(s for s in build["steps"] if "upload-artifact" in s.get("uses", ""))["with"]["name"]
    downloaded = next(s for s in publish["steps"] if "download-artifact" in s.get("uses", ""))["with"]
    assert downloaded == {"name": uploaded, "path": "dist/"}


def test_doc_has_github_and_gitlab_blocks() -> None:
    blocks = doc_blocks()
    assert sum(is_github_workflow(b) for b in blocks) >= 1
    assert sum(not is_github_workflow(b) for b in blocks) >= 1


@pytest.mark.parametrize("index", range(len(yaml_blocks(CI_DOC.read_text(encoding="utf-8")))))
def test_doc_yaml_block_is_valid(index: int) -> None:
    """Every ```yaml block of docs/ci.md: a GitHub workflow or a .gitlab-ci.yml, each valid."""
    document = doc_blocks()[index]
    if is_github_workflow(document):
        assert schema_errors("github-workflows", document) == []
    else:
        assert schema_errors("gitlab-ci", document) == []
        jobs = [v for k, v in document.items() if isinstance(v, dict) and "script" in v]
        assert jobs, "a GitLab block without a job"


def test_doc_github_recipe_matches_own_workflow() -> None:
    """The doc's recipe and vrun's own workflow compute the matrix and the cache key alike."""
    recipe = next(b for b in doc_blocks() if is_github_workflow(b))
    own = load_yaml(WORKFLOW.read_text(encoding="utf-8"))

    def step(document: Any, job: str, step_id: str) -> str:
        steps = document["jobs"][job]["steps"]
        return str(next(s for s in steps if s.get("id") == step_id)["run"])

    def jq_program(run: str) -> str:
        """From ``jq`` on, whitespace normalised (one runs ``vrun``, the other ``python -m vrun``)."""
        return re.sub(r"\s+", " ", run.split("| jq", 1)[1])

    assert jq_program(step(recipe, "sessions", "list")) == jq_program(step(own, "sessions", "list"))
    assert jq_program(step(recipe, "run", "key")) == jq_program(step(own, "run", "key"))


def test_validation_catches_mistakes() -> None:
    """The schemas are live: a misspelt key or a wrong type fails."""
    workflow = load_yaml(WORKFLOW.read_text(encoding="utf-8"))
    workflow["jobs"]["run"]["runs_on"] = workflow["jobs"]["run"].pop("runs-on")
    assert schema_errors("github-workflows", workflow)
    gitlab = next(b for b in doc_blocks() if not is_github_workflow(b))
    gitlab["stages"] = "test"
    gitlab[".vrun"]["artifacts"]["reports"]["junit"] = {"path": "junit.xml"}
    assert schema_errors("gitlab-ci", gitlab)
