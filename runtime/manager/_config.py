"""Experiment configs: the YAML of DESIGN.md §7, NNI v1 keys normalised to v2, validated.

>>> cfg = ExperimentConfig.from_dict({"trialCommand": "python3 t.py", "searchSpace": {}, "tuner": {"name": "Random"}})
>>> cfg.trial_concurrency
1
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasctl.runtime.errors import ConfigError

__all__ = ["ArchitectureSpec", "AssessorSpec", "ExperimentConfig", "TrialResources", "TunerSpec", "load_config",
           "parse_duration", "parse_memory", "MODES"]

MODES = ("classic", "enas", "oneshot", "darts")
# Modes whose trials train a supernet and need no tuner to propose architectures.
_TUNERLESS_MODES = ("oneshot", "darts")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*$")
_MAX_SEED = 2**32 - 1
# Limits on what a config file may hold: its size, its nesting and its values once aliases are expanded.
_MAX_CONFIG_BYTES = 16 * 2**20
_MAX_DEPTH = 64
_MAX_VALUES = 1_000_000
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_MEMORY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgt])(i?)b?|b)?\s*$", re.IGNORECASE)
_MEMORY_POWER = {"k": 1, "m": 2, "g": 3, "t": 4}
# trainingService keys that only one platform understands.
_LOCAL_ONLY = ("gpuIndices", "maxTrialNumberPerGpu", "useActiveGpu")
_RAY_ONLY = ("address", "channelHost")

# NNI v1 top-level keys -> v2 keys (those that only rename).
_V1_RENAMES = {
    "maxExecDuration": "maxExperimentDuration",
    "maxTrialNum": "maxTrialNumber",
    "searchSpacePath": "searchSpaceFile",
}
_V1_TRIAL = {"command": "trialCommand", "codeDir": "trialCodeDirectory", "gpuNum": "trialGpuNumber",
             "nasMode": "nasMode"}
_V1_LOCAL = {"gpuIndices": "gpuIndices", "maxTrialNumPerGpu": "maxTrialNumberPerGpu",
             "useActiveGpu": "useActiveGpu"}
#: Where the config keys are documented (error messages point there).
README_KEYS = "README.md, section 'Experiments'"
README_NNI = "README.md, section 'NNI compatibility'"
# v1 keys that NNI needed and we accept without effect (multi-phase is always on here).
_V1_IGNORED = ("authorName", "multiPhase", "multiThread", "versionCheck", "logCollection")


def parse_duration(value: Any, key: str = "duration") -> float:
    """Seconds in a duration: a number of seconds or a string like `30s`, `10m`, `2h`, `1d`."""
    if isinstance(value, bool):
        raise ConfigError(f"expected a duration like 30s, 10m, 2h or 1d, got {value!r}", key=key)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ConfigError(f"a duration must be a finite number of seconds, got {value!r}", key=key)
        if value <= 0:
            raise ConfigError(f"a duration must be positive, got {value!r}", key=key)
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"expected a duration like 30s, 10m, 2h or 1d, got {value!r}", key=key)
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"a duration must be positive, got {value!r}", key=key)
    return seconds


def parse_memory(value: Any, key: str = "memory") -> int:
    """Bytes in a memory size: a number of bytes or a string like `512MB`, `2GiB` (MB = 10**6, MiB = 2**20)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _MEMORY.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"expected a memory size like 512MB, 2GiB or a number of bytes, got {value!r}", key=key)
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    size = int(float(number) * base ** _MEMORY_POWER[unit.lower()]) if unit else int(float(number))
    if size <= 0:
        raise ConfigError(f"a memory size must be positive, got {value!r}", key=key)
    return size


def _gpu_list(value: Any) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,)
    if isinstance(value, str):
        return tuple(int(part) for part in value.split(","))
    return tuple(value)


@dataclass(frozen=True)
class TunerSpec:
    """Which tuner proposes architectures: a built-in name or `module:Class` in a code directory."""

    name: str
    class_args: dict[str, Any] = field(default_factory=dict)
    code_directory: Path | None = None
    prepare_ahead: bool | None = None  # `prepareAhead`; None: the tuner's own `prepares_ahead`

    @property
    def is_custom(self) -> bool:
        return self.code_directory is not None or ":" in self.name


@dataclass(frozen=True)
class TrialResources:
    """`resourcesPerTrial`: what Ray reserves for one trial (None: Ray's default)."""

    cpu: float | None = None
    gpu: float | None = None
    memory: int | None = None


@dataclass(frozen=True)
class AssessorSpec:
    """Which assessor stops hopeless trials: a built-in name or `module:Class` in a code directory.

    `where` is the config file and line of the `assessor` key (for errors found when it is built).
    """

    name: str
    class_args: dict[str, Any] = field(default_factory=dict)
    code_directory: Path | None = None
    where: str | None = None


def _default_trials(tuner: TunerSpec | None, architecture: ArchitectureSpec | None) -> int | None:
    """maxTrialNumber when not given: unlimited with a tuner; else 1, or one per file of a retrained folder."""
    if tuner is not None:
        return None
    if architecture is not None and architecture.file is not None and architecture.file.is_dir():
        from nasctl.runtime.manager._retrain import architecture_files

        return max(1, len(architecture_files(architecture.file)))
    return 1


@dataclass(frozen=True)
class ArchitectureSpec:
    """A retrain's `architecture:` key: a JSON file (or a folder of them), or a trial of a stored experiment.

    `where` is the config file and line of the key (for errors found when it is resolved).
    """

    file: Path | None = None
    experiment: str | None = None
    trial: str | None = None
    where: str | None = None

    def describe(self) -> dict[str, str]:
        """The source as stored with the experiment and shown by `nasctl experiment show`."""
        if self.file is not None:
            return {"file": str(self.file)}
        return {"experiment": str(self.experiment), "trial": str(self.trial)}


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated, normalised experiment config; `document` is its v2 form with absolute paths."""

    document: dict[str, Any]
    source: str | None
    trial_command: str
    trial_code_directory: Path
    use_annotation: bool
    search_space_file: Path | None
    search_space: dict[str, Any] | None
    nas_mode: str
    mode_config: dict[str, Any]
    trial_concurrency: int
    max_trial_number: int | None
    max_experiment_duration: float | None
    max_trial_duration: float | None
    seed: int | None
    tuner: TunerSpec | None
    platform: str
    gpu_indices: tuple[int, ...] | None
    trial_gpu_number: int | None
    max_trial_number_per_gpu: int
    working_directory: Path | None
    name: str | None
    architecture: ArchitectureSpec | None = None
    #: search-space keys of the compiled trial code: "stable" or NNI's "nni" (`keyStyle`)
    key_style: str = "stable"
    assessor: AssessorSpec | None = None
    resources: TrialResources = field(default_factory=TrialResources)
    ray_address: str | None = None
    channel_host: str | None = None

    @classmethod
    def from_dict(cls, document: dict[str, Any], *, base_dir: str | Path | None = None,
                  source: str | None = None, lines: dict[str, int] | None = None,
                  stored: bool = False) -> ExperimentConfig:
        """Validate and normalise a config dict; relative paths are relative to `base_dir` (default: cwd).

        `source` (the config file) and `lines` (dotted key -> line) make errors point into the file.
        `stored`: the document of a created experiment, validated then; the schema check is skipped
        (reading an experiment does not load jsonschema).
        """
        return _build(document, Path(base_dir) if base_dir is not None else Path.cwd(), source, lines or {},
                      schema=not stored)


def load_config(path: str | Path) -> ExperimentConfig:
    """Read, normalise and validate an experiment YAML file; errors name the file, line and key."""
    import yaml

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", path=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read config file: {error.strerror}", path=str(path)) from None
    if len(data) > _MAX_CONFIG_BYTES:
        raise ConfigError(f"a config file of {len(data)} bytes is too large (at most {_MAX_CONFIG_BYTES})",
                          path=str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8",
                          path=f"{path}:{line}") from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_nodes(node, str(path))
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        raise ConfigError(f"the document is nested too deeply (at most {_MAX_DEPTH} levels)", path=str(path)) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
            problem += f" ({context} started at line {context_mark.line + 1})"
        raise ConfigError(f"invalid YAML: {problem}", path=where) from None
    if not isinstance(document, dict):
        raise ConfigError("an experiment config must be a YAML mapping of keys to values", path=str(path))
    lines: dict[str, int] = {}
    _key_lines(node, "", lines)
    return ExperimentConfig.from_dict(document, base_dir=path.resolve().parent, source=str(path), lines=lines)


def _check_nodes(root: Any, path: str) -> None:
    """Refuse what YAML allows but a config must not hold: duplicate keys, alias bombs, deep nesting.

    Aliases are expanded by reference, so the walk visits each node once and counts how many values
    the document would have if every alias were written out.
    """
    import yaml

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, int, bool, str]] = [(root, 1, False, "")]
    while stack:
        node, depth, children_done, prefix = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [(child, f"{prefix}.{pair[0].value}".lstrip(".") if child is pair[1] else prefix)
                        for pair in node.value for child in pair]
        else:
            children = [(child, prefix) for child in node.value] if isinstance(node, yaml.SequenceNode) else []
        if not children_done:
            if depth > _MAX_DEPTH:
                raise ConfigError(f"the document is nested too deeply (at most {_MAX_DEPTH} levels)",
                                  path=f"{path}:{node.start_mark.line + 1}")
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        key = (key_node.tag, key_node.value)
                        if key in seen:
                            name = f"{prefix}.{key_node.value}".lstrip(".")
                            raise ConfigError(f"duplicate key '{name}' (first given at line {seen[key]}); keep one",
                                              path=f"{path}:{key_node.start_mark.line + 1}")
                        seen[key] = key_node.start_mark.line + 1
            stack.append((node, depth, True, prefix))
            stack.extend((child, depth + 1, False, name) for child, name in children if id(child) not in sizes)
            continue
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child, _ in children)
        if sizes[id(node)] > _MAX_VALUES:
            raise ConfigError(f"the document expands to more than {_MAX_VALUES} values (YAML aliases "
                              "repeated too often?)", path=f"{path}:{node.start_mark.line + 1}")


def _key_lines(node: Any, prefix: str, out: dict[str, int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[key] = key_node.start_mark.line + 1
            _key_lines(value_node, key, out)


class _Errors:
    """Raises ConfigError with the user's key name and its line in the file."""

    def __init__(self, source: str | None, lines: dict[str, int], renamed: dict[str, str]) -> None:
        self.source = source
        self.lines = lines
        self.renamed = renamed  # v2 key -> the key the user wrote

    def where(self, key: str) -> str | None:
        """`file:line` of `key` in the config file (the file alone if the line is unknown)."""
        if self.source is not None and key in self.lines:
            return f"{self.source}:{self.lines[key]}"
        return self.source

    def raise_(self, message: str, key: str) -> None:
        user_key = self.renamed.get(key, key)
        if user_key not in self.lines:
            head, _, tail = key.partition(".")
            if head in self.renamed and tail:
                user_key = f"{self.renamed[head]}.{tail}"
        where = self.source
        probe = user_key
        while where is not None and probe:
            if probe in self.lines:
                where = f"{self.source}:{self.lines[probe]}"
                break
            probe = probe.rpartition(".")[0]
        raise ConfigError(message, key=user_key or None, path=where)


def _normalise_v1(doc: dict[str, Any], errors: _Errors) -> dict[str, Any]:
    """Move NNI v1 keys to their v2 names, recording the original names for error messages."""
    out = dict(doc)
    renamed = errors.renamed

    def put(v2_key: str, value: Any, user_key: str) -> None:
        if v2_key in out:
            errors.raise_(f"both '{user_key}' (NNI v1) and '{v2_key}' are given; keep one", user_key)
        out[v2_key] = value
        renamed[v2_key] = user_key

    for v1_key, v2_key in _V1_RENAMES.items():
        if v1_key in out:
            put(v2_key, out.pop(v1_key), v1_key)
    for key in _V1_IGNORED:
        out.pop(key, None)
    if "trainingServicePlatform" in out:
        platform = out.pop("trainingServicePlatform")
        put("trainingService", {"platform": platform}, "trainingServicePlatform")
        renamed["trainingService.platform"] = "trainingServicePlatform"
    if "trial" in out:
        trial = out.pop("trial")
        if not isinstance(trial, dict):
            errors.raise_(f"expected a mapping with command, codeDir, gpuNum, nasMode, got {trial!r}", "trial")
        for v1_key, value in trial.items():
            if v1_key not in _V1_TRIAL:
                errors.raise_(f"unknown key (the NNI v1 'trial' section takes {', '.join(_V1_TRIAL)})",
                              f"trial.{v1_key}")
            put(_V1_TRIAL[v1_key], value, f"trial.{v1_key}")
    if "localConfig" in out:
        local = out.pop("localConfig")
        if not isinstance(local, dict):
            errors.raise_(f"expected a mapping, got {local!r}", "localConfig")
        service = out.setdefault("trainingService", {"platform": "local"})
        if not isinstance(service, dict):
            errors.raise_("expected a mapping", "trainingService")
        for v1_key, value in local.items():
            if v1_key not in _V1_LOCAL:
                errors.raise_(f"unknown key (localConfig takes {', '.join(_V1_LOCAL)})", f"localConfig.{v1_key}")
            service[_V1_LOCAL[v1_key]] = value
            renamed[f"trainingService.{_V1_LOCAL[v1_key]}"] = f"localConfig.{v1_key}"
    if "advisor" in out:
        _refuse_advisor(out["advisor"], errors)
    tuner = out.get("tuner")
    if isinstance(tuner, dict):
        tuner = _normalise_v1_plugin(tuner, "tuner", "builtinTunerName", errors)
        for ignored in ("gpuIndices", "gpuNum", "includeIntermediateResults"):
            tuner.pop(ignored, None)
        out["tuner"] = tuner
    if isinstance(out.get("assessor"), dict):
        out["assessor"] = _normalise_v1_plugin(out["assessor"], "assessor", "builtinAssessorName", errors)
    if "gpuIndices" in out:
        service = out.setdefault("trainingService", {"platform": "local"})
        if isinstance(service, dict):
            if "gpuIndices" in service:
                errors.raise_("given both here and in trainingService; keep one", "gpuIndices")
            service["gpuIndices"] = out.pop("gpuIndices")
            renamed["trainingService.gpuIndices"] = "gpuIndices"
    return out


def _refuse_advisor(advisor: Any, errors: _Errors) -> None:
    """NNI's `advisor:` section (Hyperband, BOHB): not supported; say which tuner comes closest."""
    from nasctl.tuners import TunerArgumentError, resolve_nni

    name = None
    if isinstance(advisor, dict):
        name = advisor.get("builtinAdvisorName", advisor.get("name"))
    if not isinstance(name, str):
        errors.raise_("NNI's advisors (Hyperband, BOHB) are not supported by nasctl; the closest is a tuner: "
                      f"tuner: {{name: TPE}} ({README_NNI})", "advisor")
    try:
        resolve_nni(name, {})
    except TunerArgumentError as error:
        errors.raise_(f"advisor: {error}; write it as tuner: {{name: ...}} ({README_NNI})", "advisor")
    errors.raise_(f"NNI's advisor {name!r} is not supported by nasctl; the closest is tuner: {{name: {name}}}",
                  "advisor")


def _check_nni_tuner(tuner_doc: dict[str, Any], errors: _Errors) -> None:
    """A built-in tuner's name and class arguments, checked before the experiment exists (NNI's names
    resolve or are refused naming the closest: `nasctl.tuners.resolve_nni`)."""
    from nasctl.tuners import TunerArgumentError, resolve_nni

    class_args = tuner_doc.get("classArgs", {})
    try:
        resolve_nni(tuner_doc["name"], class_args)
    except TunerArgumentError as error:
        message = str(error)
        argument = next((name for name in class_args if f"'{name}" in message), None)
        errors.raise_(message, f"tuner.classArgs.{argument}" if argument else "tuner.name")

def _normalise_v1_plugin(section: dict[str, Any], kind: str, builtin_key: str, errors: _Errors) -> dict[str, Any]:
    """NNI v1 keys of a `tuner` or `assessor` section (`builtin<Kind>Name`, codeDir, classFileName) to v2."""
    out = dict(section)
    renamed = errors.renamed
    if builtin_key in out:
        if "name" in out:
            errors.raise_(f"both '{builtin_key}' (NNI v1) and 'name' are given; keep one", f"{kind}.{builtin_key}")
        out["name"] = out.pop(builtin_key)
        renamed[f"{kind}.name"] = f"{kind}.{builtin_key}"
    if "codeDir" in out:
        out["codeDirectory"] = out.pop("codeDir")
        renamed[f"{kind}.codeDirectory"] = f"{kind}.codeDir"
    if "classFileName" in out:
        file_name = out.pop("classFileName")
        if not isinstance(file_name, str) or not file_name.endswith(".py"):
            errors.raise_(f"expected a Python file name like my_{kind}.py, got {file_name!r}",
                          f"{kind}.classFileName")
        class_name = out.get("className")
        if not isinstance(class_name, str):
            errors.raise_(f"a custom {kind} with classFileName needs className", f"{kind}.className")
        out["className"] = f"{file_name[:-3]}:{class_name}"
    return out


def _schema_message(detail: str, key: str) -> tuple[str, str]:
    """A schema error's message and key, reworded for people."""
    unexpected = re.search(r"\('([^']+)' was unexpected\)|\(('[^)]+) were unexpected\)", detail)
    if detail.startswith("Additional properties") and unexpected:
        name = unexpected.group(1) or unexpected.group(2).split("'")[1]
        return f"unknown key (check its spelling; the keys are listed in {README_KEYS})", (
            f"{key}.{name}" if key else name)
    required = re.match(r"'([^']+)' is a required property", detail)
    if required:
        name = required.group(1)
        return "missing required key", f"{key}.{name}" if key else name
    if key == "resourcesPerTrial.memory":
        return "expected a memory size like 512MB, 2GiB or a number of bytes", key
    if key.endswith("Duration"):
        return f"expected a duration like 30s, 10m, 2h or 1d ({detail})", key
    if key == "architecture" and "is not valid under any" in detail:
        return "expected an architecture JSON file (a path) or {experiment: ID, trial: T}", key
    return detail, key


def _check_mode_options(mode: str, options: Any, errors: _Errors) -> None:
    """The mode section as the trials will read it: checked now, not once per failing trial."""
    from nasctl.runtime.modes._options import check_mode_options

    try:
        check_mode_options(mode, options)
    except ConfigError as error:
        key = error.key or mode
        errors.raise_(str(error).removeprefix(f"key '{key}': "), key)


class _Sections:
    """The normalised document being parsed, section by section: each `_<section>` function reads its
    keys from `doc` (making its paths absolute there) and returns the `ExperimentConfig` fields it sets."""

    def __init__(self, doc: dict[str, Any], base_dir: Path, errors: _Errors) -> None:
        self.doc = doc
        self.base_dir = base_dir
        self.errors = errors

    def path_of(self, value: str) -> Path:
        """A path of the config, relative to its folder unless absolute."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()


def _build(document: dict[str, Any], base_dir: Path, source: str | None,
           lines: dict[str, int], *, schema: bool = True) -> ExperimentConfig:
    if not isinstance(document, dict):
        raise ConfigError("an experiment config must be a mapping of keys to values", path=source)
    errors = _Errors(source, lines, {})
    doc = _normalise_v1(copy.deepcopy(document), errors)
    if schema:
        _check_schema(doc, errors)
    sections = _Sections(doc, base_dir, errors)
    trial = _trial_section(sections)
    mode = _mode_section(sections)
    space = _search_space_section(sections, mode["nas_mode"])
    architecture = _architecture_section(sections, mode["nas_mode"])
    tuner = _tuner_section(sections, mode["nas_mode"], architecture)
    assessor = _assessor_section(sections)
    service = _training_service_section(sections)
    limits = _limits_section(sections, tuner, architecture)
    return ExperimentConfig(document=doc, source=source, **trial, **mode, **space, architecture=architecture,
                            tuner=tuner, assessor=assessor, **service, **limits)


def _check_schema(doc: dict[str, Any], errors: _Errors) -> None:
    from nasctl import schemas

    try:
        schemas.validate("experiment", doc)
    except schemas.SchemaError as error:
        message, key = _schema_message(error.detail, error.key)
        errors.raise_(message, key)


def _trial_section(sections: _Sections) -> dict[str, Any]:
    """trialCommand, trialCodeDirectory, trialConcurrency, the experiment's name, folder and key style."""
    doc = sections.doc
    code_dir = sections.path_of(doc.get("trialCodeDirectory", "."))
    if not code_dir.is_dir():
        sections.errors.raise_(f"trial code directory {code_dir} does not exist", "trialCodeDirectory")
    doc["trialCodeDirectory"] = str(code_dir)
    working_directory = None
    if "experimentWorkingDirectory" in doc:
        working_directory = sections.path_of(doc["experimentWorkingDirectory"])
        doc["experimentWorkingDirectory"] = str(working_directory)
    return {"trial_command": doc["trialCommand"], "trial_code_directory": code_dir,
            "trial_concurrency": doc.get("trialConcurrency", 1), "name": doc.get("experimentName"),
            "working_directory": working_directory, "key_style": doc.get("keyStyle", "stable")}


def _mode_section(sections: _Sections) -> dict[str, Any]:
    """nasMode and its options section (`darts:`, `oneshot:`, `enas:`), checked as the trials will read them."""
    doc, errors = sections.doc, sections.errors
    mode = doc.get("nasMode", "classic").removesuffix("_mode")
    doc["nasMode"] = mode
    mode_config: dict[str, Any] = {}
    for other in MODES:
        if other in doc:
            if other != mode:
                errors.raise_(f"options for mode '{other}' but nasMode is '{mode}'", other)
            mode_config = doc[other]
    try:
        json.dumps(mode_config)
    except (TypeError, ValueError):
        errors.raise_("mode options must be JSON values (numbers, strings, lists, mappings)", mode)
    _check_mode_options(mode, mode_config, errors)
    return {"nas_mode": mode, "mode_config": dict(mode_config)}


def _search_space_section(sections: _Sections, mode: str) -> dict[str, Any]:
    """useAnnotation, searchSpaceFile or searchSpace: exactly one, unless the mode needs no tuner."""
    doc, errors = sections.doc, sections.errors
    use_annotation = bool(doc.get("useAnnotation", False))
    search_space_file = None
    if "searchSpaceFile" in doc:
        search_space_file = sections.path_of(doc["searchSpaceFile"])
        doc["searchSpaceFile"] = str(search_space_file)
        if not search_space_file.is_file():
            errors.raise_(f"search space file {search_space_file} does not exist", "searchSpaceFile")
    given = [key for key in ("searchSpaceFile", "searchSpace") if key in doc]
    if use_annotation and given:
        errors.raise_("useAnnotation takes the search space from the annotated code; remove this key", given[0])
    if len(given) > 1:
        errors.raise_("give either searchSpaceFile or searchSpace, not both", given[1])
    if not use_annotation and not given and mode not in _TUNERLESS_MODES:
        errors.raise_("no search space: set useAnnotation: true, searchSpaceFile or searchSpace",
                      "searchSpaceFile")
    return {"use_annotation": use_annotation, "search_space_file": search_space_file,
            "search_space": doc.get("searchSpace")}


def _architecture_section(sections: _Sections, mode: str) -> ArchitectureSpec | None:
    """A retrain's `architecture:`: a file or folder, or `{experiment, trial}`; classic mode only."""
    doc, errors = sections.doc, sections.errors
    if "architecture" not in doc:
        return None
    if mode != "classic":
        errors.raise_(f"a retrain (architecture:) runs in classic mode, but nasMode is '{mode}'; "
                      "remove nasMode or set it to classic", "nasMode" if "nasMode" in doc else "architecture")
    value = doc["architecture"]
    where = errors.where("architecture")
    if isinstance(value, str):
        file = sections.path_of(value)
        doc["architecture"] = str(file)
        return ArchitectureSpec(file=file, where=where)
    return ArchitectureSpec(experiment=value["experiment"], trial=value["trial"], where=where)


def _plugin_class(sections: _Sections, kind: str) -> tuple[str, Path | None]:
    """A `tuner` or `assessor` section's built-in `name`, or its custom `className` as `module:Class`
    with its code directory (made absolute in the document)."""
    section, errors = sections.doc[kind], sections.errors
    if "className" not in section:
        if "codeDirectory" in section:
            errors.raise_(f"codeDirectory is for a custom {kind} given by className", f"{kind}.codeDirectory")
        return section["name"], None
    name = section["className"]
    if ":" not in name:
        module, _, cls_name = name.rpartition(".")
        if not module:
            errors.raise_(f"expected 'module:Class' or 'module.Class', got {name!r}", f"{kind}.className")
        name = f"{module}:{cls_name}"
    code_dir = sections.path_of(section.get("codeDirectory", "."))
    if not code_dir.is_dir():
        errors.raise_(f"{kind} code directory {code_dir} does not exist", f"{kind}.codeDirectory")
    section["codeDirectory"] = str(code_dir)
    return name, code_dir


def _tuner_section(sections: _Sections, mode: str, architecture: ArchitectureSpec | None) -> TunerSpec | None:
    """`tuner:`, required unless the mode needs none or a retrain fixes the architecture."""
    doc, errors = sections.doc, sections.errors
    if "tuner" not in doc:
        if mode not in _TUNERLESS_MODES and architecture is None:
            errors.raise_(f"missing required key: nasMode '{mode}' needs a tuner, e.g. tuner: {{name: TPE}}",
                          "tuner")
        return None
    section = doc["tuner"]
    has_name, has_class = "name" in section, "className" in section
    if has_name == has_class:
        errors.raise_("give a built-in tuner 'name' or a custom 'className' (with codeDirectory)",
                      "tuner.className" if has_class else "tuner.name")
    name, code_dir = _plugin_class(sections, "tuner")
    if code_dir is None:
        _check_nni_tuner(section, errors)
    return TunerSpec(name=name, class_args=dict(section.get("classArgs", {})), code_directory=code_dir,
                     prepare_ahead=section.get("prepareAhead"))


def _assessor_section(sections: _Sections) -> AssessorSpec | None:
    """`assessor:` (already schema-checked)."""
    doc, errors = sections.doc, sections.errors
    if "assessor" not in doc:
        return None
    section = doc["assessor"]
    has_name, has_class = "name" in section, "className" in section
    if has_name == has_class:
        errors.raise_("give a built-in assessor 'name' (Medianstop, Curvefitting, SuccessiveHalving, Hyperband) "
                      "or a custom 'className' (with codeDirectory)", "assessor.className" if has_class else "assessor.name")
    name, code_dir = _plugin_class(sections, "assessor")
    return AssessorSpec(name=name, class_args=dict(section.get("classArgs", {})), code_directory=code_dir,
                        where=errors.where("assessor"))


def _training_service_section(sections: _Sections) -> dict[str, Any]:
    """`trainingService:` with what a trial needs of it: trialGpuNumber and resourcesPerTrial."""
    doc, errors = sections.doc, sections.errors
    service = doc.setdefault("trainingService", {"platform": "local"})
    platform = service["platform"]
    for key in _RAY_ONLY if platform == "local" else _LOCAL_ONLY:
        if key in service:
            other = "ray" if platform == "local" else "local"
            hint = "" if platform == "local" else "; Ray assigns GPUs (set trialGpuNumber or resourcesPerTrial.gpu)"
            errors.raise_(f"this key is for trainingService.platform {other}, not {platform}{hint}",
                          f"trainingService.{key}")
    gpu_indices = _gpu_list(service["gpuIndices"]) if "gpuIndices" in service else None
    gpu_number, resources = _resources(doc, platform, errors)
    gpu_key = "trialGpuNumber" if "trialGpuNumber" in doc else "resourcesPerTrial.gpu"
    # trialGpuNumber without gpuIndices (NNI v1's gpuNum): the visible GPUs, found when trials start.
    if gpu_number and gpu_indices is not None and gpu_number > len(gpu_indices):
        errors.raise_(f"a trial needs {gpu_number} GPUs but gpuIndices lists {len(gpu_indices)}", gpu_key)
    return {"platform": platform, "gpu_indices": gpu_indices, "trial_gpu_number": gpu_number,
            "max_trial_number_per_gpu": service.get("maxTrialNumberPerGpu", 1), "resources": resources,
            "ray_address": service.get("address", "local") if platform == "ray" else None,
            "channel_host": service.get("channelHost")}


def _resources(doc: dict[str, Any], platform: str, errors: _Errors) -> tuple[int | None, TrialResources]:
    """(GPUs per trial, what Ray reserves per trial) from trialGpuNumber and resourcesPerTrial."""
    gpu_number = doc.get("trialGpuNumber")
    resources = TrialResources()
    if "resourcesPerTrial" in doc:
        wanted = doc["resourcesPerTrial"]
        gpu = wanted.get("gpu")
        if gpu is not None and gpu_number is not None and gpu != gpu_number:
            errors.raise_(f"resourcesPerTrial.gpu is {gpu} but trialGpuNumber is {gpu_number}; keep one",
                          "resourcesPerTrial.gpu")
        if gpu is not None and platform == "local":
            if gpu != int(gpu):
                errors.raise_(f"a local trial takes whole GPUs, got {gpu} (fractions are for platform ray)",
                              "resourcesPerTrial.gpu")
            gpu_number = int(gpu)
        memory = wanted.get("memory")
        resources = TrialResources(cpu=wanted.get("cpu"), gpu=gpu,
                                   memory=parse_memory(memory, "resourcesPerTrial.memory") if memory is not None
                                   else None)
    if platform == "ray" and resources.gpu is None and gpu_number is not None:
        resources = TrialResources(cpu=resources.cpu, gpu=gpu_number, memory=resources.memory)
    return gpu_number, resources


def _limits_section(sections: _Sections, tuner: TunerSpec | None,
                    architecture: ArchitectureSpec | None) -> dict[str, Any]:
    """seed, maxTrialNumber, maxExperimentDuration and maxTrialDuration."""
    doc, errors = sections.doc, sections.errors
    seed = doc.get("seed")
    if seed is not None and seed > _MAX_SEED:
        errors.raise_(f"expected an integer from 0 to {_MAX_SEED} (2**32 - 1), got {seed}", "seed")
    durations: dict[str, float] = {}
    for key in ("maxExperimentDuration", "maxTrialDuration"):
        if key in doc:
            try:
                durations[key] = parse_duration(doc[key], key)
            except ConfigError as error:
                errors.raise_(str(error).removeprefix(f"key '{key}': "), key)
    return {"seed": seed, "max_trial_number": doc.get("maxTrialNumber", _default_trials(tuner, architecture)),
            "max_experiment_duration": durations.get("maxExperimentDuration"),
            "max_trial_duration": durations.get("maxTrialDuration")}
