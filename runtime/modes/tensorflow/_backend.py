"""What every TensorFlow backend shares: candidates, the two styles of trial code, signals, hooks.

A TensorFlow trial is written in one of two styles, told apart per layer on its first call:

- **keras**: TensorFlow 2, eager or inside `tf.function`. A candidate class (a Keras `Layer`) is built
  once and tracked by the owner (the enclosing layer or model) in its `nas_candidates` dict, so its
  weights are in `model.trainable_variables`; a function is called directly.
- **graph**: NNI v1 code that builds a `tf.compat.v1` graph. A candidate is a function that builds ops
  and creates its weights with `tf.compat.v1.get_variable`; each candidate runs inside its own variable
  scope `<block>__<layer>/c<index>` (inside the caller's scope) with `AUTO_REUSE`, so that calling it
  again (another subgraph of enas, the same layer built twice) shares its weights.

Life of a backend in a trial (the trial runtime drives it through the `LayerBackend` contract; a test
can drive it by hand, `Backend(options, seed=...)`):

1. `resolve(layer)` is what `mutable_layer(...)` resolves to for `(tensorflow, mode)`; `layer(...)`
   runs one layer directly (a test). The first call of a layer builds its `Layer` (candidates) and
   the mode's per-layer state (`_new_layer_impl`); every call runs `_forward_impl`.
2. `set_architecture(arch)`: the trial received an architecture (classic) or a subgraph (enas).
3. `training_update(**kwargs)` is `nas.training_update(...)`: a step of the mode.
4. `on_final_result(value)` after each `report_final_result`; `finish()` derives the architecture and
   sends it through `report_architecture`.

Hooks (`FrameworkBackend`) the trial sets on `attach`, all optional: `reporter(value)` sends
architecture weights (an `arch_weights` metric), `fetch_parameters()` asks for the next parameters
(enas), `report_architecture(arch)` sends the derived architecture.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, ClassVar

import tensorflow as tf
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._backend import FrameworkBackend, LayerRequest
from nasctl.runtime.modes._backend import LayerCall as TrialLayerCall
from nasctl.runtime.modes._classic import candidate_key
from nasctl.runtime.modes._spec import Architecture, LayerSpec, remember_spec

CandidateTable = Mapping[str, tuple[Any, Sequence[Any], Mapping[str, Any]]]

KERAS = "keras"
GRAPH = "graph"

#: The graph collection that holds every architecture variable of graph-style trials (never the
#: TRAINABLE_VARIABLES collection, so a user's `optimizer.minimize(loss)` cannot touch them).
ARCH_COLLECTION = "nas_architecture_weights"
#: The graph collection that holds the `nas_training` flag of graph-style trials.
TRAINING_COLLECTION = "nas_training"

v1 = tf.compat.v1

_UNSAFE = re.compile(r"[^0-9A-Za-z_]")


def scope_name(block_key: str, layer_key: str) -> str:
    """A layer's TensorFlow name/variable scope, the sanitised `<block>__<layer>`; candidate `i` of a
    graph-style layer runs in `<scope>/c<i>` (`trial codegen` writes the same scope)."""
    return _UNSAFE.sub("_", f"{block_key}__{layer_key}")


def trial_style() -> str:
    """`"graph"` while a `tf.compat.v1` graph is being built, else `"keras"` (eager or `tf.function`)."""
    return KERAS if v1.executing_eagerly_outside_functions() else GRAPH


def keras_training() -> bool:
    """Whether the Keras call in progress is a training step: its `training` flag, True when unset."""
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # pragma: no cover - Keras 2 or no Keras
        return True
    context = global_state.get_global_attribute("current_call_ctx")
    value = None if context is None else context.get_value("training")
    return True if value is None else bool(value)


def outer_graph() -> tf.Graph:
    """The `tf.compat.v1` graph being built, also from inside a `tf.cond` branch of it."""
    graph = v1.get_default_graph()
    while getattr(graph, "building_function", False) and getattr(graph, "outer_graph", None) is not None:
        graph = graph.outer_graph
    return graph


def graph_training_flag(graph: tf.Graph | None = None) -> tf.Tensor:
    """The graph's `nas_training` flag: a boolean placeholder, True unless fed False (evaluation)."""
    graph = graph or outer_graph()
    found = graph.get_collection(TRAINING_COLLECTION)
    if found:
        return found[0]
    with graph.as_default(), graph.name_scope(None):
        flag = v1.placeholder_with_default(True, [], name="nas_training")
    graph.add_to_collection(TRAINING_COLLECTION, flag)
    return flag


@contextlib.contextmanager
def _unlocked(owner: Any) -> Iterator[None]:
    # Keras 3 locks a built layer's state; sub-layers created on the first call are added the way
    # Keras itself adds a late variable: unlock, track, lock again.
    tracker = getattr(owner, "_tracker", None)
    locked = bool(getattr(tracker, "locked", False))
    if locked:
        tracker.unlock()
    try:
        yield
    finally:
        if locked:
            tracker.lock()


def _is_keras_layer(value: Any) -> bool:
    import keras

    return isinstance(value, keras.layers.Layer)


class Layer:
    """The candidates of one layer on one owner (keras) or in one graph (graph), built on demand.

    `call(i, fixed, chosen)` runs candidate `i` on `[fixed, chosen]` (NNI's calling convention);
    a class candidate is constructed on its first call only, so classic mode builds the chosen one only.
    """

    def __init__(self, spec: LayerSpec, table: CandidateTable, owner: Any, style: str,
                 registry: dict[str, Any]) -> None:
        self.spec = spec
        self.style = style
        self.owner = owner
        self._table = list(table.values())
        self._registry = registry
        self._calls: list[Callable[[list[Any]], Any] | None] = [None] * len(self._table)
        self.instances: list[Any] = [None] * len(self._table)
        self.scope = scope_name(spec.block_key, spec.layer_key)
        self._scope_names: dict[int, str] = {}
        # graph style: each candidate's variables by (name, shape, occurrence), made on its first call
        self._variables: list[dict[tuple[Any, ...], Any]] = [{} for _ in self._table]
        self._prebuilt = False

    def build(self, index: int) -> Callable[[list[Any]], Any]:
        """The callable of candidate `index`, constructing it (once) if it is a class."""
        call = self._calls[index]
        if call is not None:
            return call
        callee, args, kwargs = self._table[index]
        if isinstance(callee, type):
            instance = self._instance(index, callee, tuple(args), dict(kwargs))
            self.instances[index] = instance
            call = instance
        elif args or kwargs:
            args, kwargs = tuple(args), dict(kwargs)

            def call(inputs: list[Any], callee: Any = callee) -> Any:
                return callee(inputs, *args, **kwargs)
        else:
            call = callee
        if self.style == GRAPH:
            call = self._scoped(call, index)
        self._calls[index] = call
        return call

    def build_all(self) -> None:
        """Construct every class candidate (one-shot modes share them all)."""
        for index in range(len(self._table)):
            self.build(index)

    def call(self, index: int, fixed: list[Any], chosen: list[Any]) -> Any:
        """Run candidate `index` on `[fixed, chosen]`."""
        return self.build(index)([fixed, chosen])

    def variable_scope(self, index: int) -> str:
        """The variable scope of candidate `index` in graph style, relative to the enclosing scope."""
        return f"{self.scope}/c{index}"

    def _scoped(self, call: Callable[[list[Any]], Any], index: int) -> Callable[[list[Any]], Any]:
        name = self.variable_scope(index)

        def scoped(inputs: list[Any]) -> Any:
            with v1.variable_scope(name, reuse=v1.AUTO_REUSE) as scope, \
                    v1.variable_creator_scope(self._reusing(index)):
                self._scope_names[index] = scope.name
                return call(inputs)

        return scoped

    def _reusing(self, index: int) -> Callable[..., Any]:
        """A variable creator for one call of candidate `index`: the variables it creates are kept, and
        a later call gets them back in the same order (by name and shape), so a candidate that makes
        its weights with `tf.Variable(<tensor>)` (NNI's operators) shares them like `get_variable` with
        `AUTO_REUSE` does, also inside the `switch_case`/`cond` branches that cannot create them."""
        store = self._variables[index]
        seen: dict[tuple[Any, ...], int] = {}

        def creator(next_creator: Callable[..., Any], **kwargs: Any) -> Any:
            initial = kwargs.get("initial_value")
            shape = kwargs.get("shape") if callable(initial) or initial is None else getattr(initial, "shape", None)
            shape = tuple(tf.TensorShape(shape).as_list()) if shape is not None else None
            head = (kwargs.get("name"), shape)
            occurrence = seen[head] = seen.get(head, -1) + 1
            key = (*head, occurrence)
            if key not in store:
                if self._prebuilt and kwargs.get("use_resource") is None:
                    kwargs["use_resource"] = True  # read inside the branches' function graphs
                store[key] = next_creator(**kwargs)
            return store[key]

        return creator

    def prebuild(self, fixed: list[Any], optional: list[Any]) -> None:
        """Graph style: call every candidate once on each kind of input subset (by the inputs' shapes)
        outside any branch, so that the variables it creates exist before `switch_case`/`cond`
        branches call it again (the ops of these calls are never run)."""
        if self._prebuilt or self.style != GRAPH:
            return
        self._prebuilt = True
        subsets = [(c, tuple(subset)) for c, subset in self.spec.subgraphs]
        subsets += [(c, tuple(range(len(optional)))) for c in range(len(self._table))]
        seen: set[tuple[Any, ...]] = set()
        for c, subset in subsets:
            kind = (c, tuple(str(getattr(optional[i], "shape", None)) for i in subset))
            if kind not in seen:
                seen.add(kind)
                self.call(c, fixed, [optional[i] for i in subset])

    def _instance(self, index: int, callee: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name = candidate_key(self.spec.block_key, self.spec.layer_key, index)
        owner = self.owner if self.style == KERAS and _is_keras_layer(self.owner) else None
        if owner is None:
            if name not in self._registry:
                self._registry[name] = self._construct(index, callee, args, kwargs)
            return self._registry[name]
        with _unlocked(owner):
            if getattr(owner, "nas_candidates", None) is None:
                owner.nas_candidates = {}
            holder = owner.nas_candidates
            if not isinstance(holder, MutableMapping):
                raise TrialError(f"layer {self.spec.where}: {type(owner).__name__} has an attribute "
                                 "'nas_candidates' that is not a mapping; nasctl keeps candidates there")
            if name not in holder:
                holder[name] = self._construct(index, callee, args, kwargs)
        return holder[name]

    def _construct(self, index: int, callee: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return callee(*args, **kwargs)
        except TypeError as error:
            raise TrialError(f"layer {self.spec.where}: cannot construct candidate "
                             f"{self.spec.labels[index]!r}: {error}") from error

    def parameter_count(self, index: int) -> int:
        """Trainable parameters of candidate `index` (0 for a function in keras style)."""
        if self.style == GRAPH:
            scope = self._scope_names.get(index, self.variable_scope(index)) + "/"
            found = [v for v in v1.trainable_variables() if v.name.startswith(scope)]
            return int(sum(v.shape.num_elements() or 0 for v in found))
        instance = self.instances[index]
        variables = getattr(instance, "trainable_variables", None) or []
        return int(sum(v.shape.num_elements() or 0 for v in variables))


class Signal:
    """An integer that selects a subgraph at run time: a non-trainable variable read by the graph.

    keras style: a `tf.Variable` outside the model, set with `assign` (seen by `tf.function` too).
    graph style: a `get_variable` in the graph, loaded into a session through a placeholder fed to one
    assign op built with it, so that setting it adds nothing to the graph.
    """

    def __init__(self, style: str, name: str, initial: int) -> None:
        self.style = style
        self.pending: int | None = None
        if style == KERAS:
            with tf.init_scope():
                self.variable = tf.Variable(initial, dtype=tf.int32, trainable=False, name=name)
            return
        self.variable = v1.get_variable(
            name, shape=[], dtype=tf.int32, initializer=v1.constant_initializer(initial), trainable=False,
            collections=[v1.GraphKeys.GLOBAL_VARIABLES], use_resource=True,
        )
        self._feed = v1.placeholder(tf.int32, [], name=name + "_value")
        self._assign = self.variable.assign(self._feed)

    def value(self) -> tf.Tensor:
        """The signal as a tensor (read at run time)."""
        return self.variable.read_value() if self.style == GRAPH else tf.convert_to_tensor(self.variable)

    def set(self, value: int, session: Any = None) -> None:
        """Set the signal; in graph style without a session it is loaded by the next `load(session)`."""
        if self.style == KERAS:
            self.variable.assign(value)
        elif session is None:
            self.pending = value
        else:
            session.run(self._assign, {self._feed: value})
            self.pending = None

    def load(self, session: Any) -> None:
        """Graph style: load a value set without a session."""
        if self.pending is not None:
            self.set(self.pending, session)


def run_subgraph(layer: Layer, index: Any, fixed: list[Any], optional: list[Any]) -> Any:
    """Run only subgraph `index` (a tensor or an int) of `layer`: one candidate on one input subset.

    Eager: the chosen branch is called directly. `tf.function` and graph style: `tf.switch_case` over
    all subgraphs, so the graph holds every subgraph (sharing weights) and runs the selected one.
    """
    subgraphs = layer.spec.subgraphs
    if isinstance(index, int) or tf.executing_eagerly() or len(subgraphs) == 1:
        c, subset = subgraphs[0 if len(subgraphs) == 1 else int(index)]
        return layer.call(c, fixed, [optional[i] for i in subset])
    branches = [
        (lambda c=c, subset=subset: layer.call(c, fixed, [optional[i] for i in subset]))
        for c, subset in subgraphs
    ]
    return tf.switch_case(index, branches)


class TensorFlowBackend(FrameworkBackend):
    """Base of the four TensorFlow backends; see the module docstring."""

    framework: ClassVar[str | None] = "tensorflow"
    #: `training_update` keyword arguments every mode accepts (NNI passes `tf=tf, session=sess`); the
    #: modes without an architecture step ignore `loss`, `tape` and `feed_dict`, so one script runs in all.
    update_keys: ClassVar[frozenset[str]] = frozenset({"tf", "session", "feed_dict", "loss", "tape"})

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None,
                 architecture: Architecture | None = None) -> None:
        super().__init__(options, seed=seed)
        self.session: Any = None
        self._generator: tf.random.Generator | None = None
        self._owned: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Layer]] = weakref.WeakKeyDictionary()
        self._unowned: dict[tuple[str, str], Layer] = {}
        # Per-layer state of the mode: keras style keyed (None, block, layer), graph style (graph, ...).
        self.states: dict[tuple[Any, str, str], Any] = {}
        if architecture is not None:
            self.set_architecture(architecture)

    # -- the layer call -----------------------------------------------------------------------------

    def resolve(self, layer: LayerRequest) -> TrialLayerCall:
        """The contract's per-call function of one layer: `_run` (which tells the trial's style and
        finds the built layer on every call)."""
        run, block_key, layer_key = self._run, layer.block_key, layer.layer_key
        size, owner = layer.optional_input_size, layer.owner

        def call(candidates: CandidateTable, fixed: list[Any], optional: Mapping[str, Any]) -> Any:
            return run(block_key, layer_key, candidates, fixed, optional, size, owner)

        return call

    def _run(self, block_key: str, layer_key: str, candidates: CandidateTable, fixed_inputs: Sequence[Any],
             optional_inputs: Mapping[str, Any], optional_input_size: int | Sequence[int], owner: Any) -> Any:
        """One call of a layer in this backend's mode: build it on its first call, then `_forward_impl`."""
        style = trial_style()
        if style == GRAPH:
            layers = self._owned.setdefault(outer_graph(), {})
        elif owner is not None and _is_keras_layer(owner):
            layers = self._owned.setdefault(owner, {})
        else:
            layers = self._unowned
        built = layers.get((block_key, layer_key))
        if built is None:
            built = self._build(block_key, layer_key, candidates, optional_inputs, optional_input_size, owner, style)
            layers[(block_key, layer_key)] = built
        return self._forward_impl(built, list(fixed_inputs), list(optional_inputs.values()))

    def _build(self, block_key: str, layer_key: str, candidates: CandidateTable,
               optional_inputs: Mapping[str, Any], optional_input_size: int | Sequence[int], owner: Any,
               style: str) -> Layer:
        spec = LayerSpec.of_call(block_key, layer_key, tuple(candidates), tuple(optional_inputs),
                                 optional_input_size)
        remember_spec(self.specs, spec)
        layer = Layer(spec, candidates, owner, style, self.registry)
        key = self.state_key(layer)
        if key not in self.states:
            if style == GRAPH:
                with v1.variable_scope(v1.VariableScope(v1.AUTO_REUSE, name="nas"), auxiliary_name_scope=False), \
                        tf.name_scope("nas/"):
                    self.states[key] = self._new_layer_impl(layer)
            else:
                self.states[key] = self._new_layer_impl(layer)
        return layer

    def state_key(self, layer: Layer) -> tuple[Any, str, str]:
        """Where the mode's state of `layer` is kept: per graph in graph style, per key in keras style."""
        context = outer_graph() if layer.style == GRAPH else None
        return (context, layer.spec.block_key, layer.spec.layer_key)

    def _new_layer_impl(self, layer: Layer) -> Any:
        """Create the mode's state of a layer seen for the first time (per graph in graph style)."""
        return None

    def _forward_impl(self, layer: Layer, fixed: list[Any], optional: list[Any]) -> Any:
        raise NotImplementedError

    # -- the trial's hooks --------------------------------------------------------------------------

    def set_architecture(self, architecture: Mapping[str, Any]) -> None:
        """The trial received `architecture` (classic: the architecture; enas: the next subgraph)."""
        super().set_architecture(architecture)
        assert self.architecture is not None
        self._architecture_impl(self.architecture)

    def _architecture_impl(self, architecture: Architecture) -> None:
        """Apply a new architecture to the layers already built; nothing by default."""

    def training_update(self, **kwargs: Any) -> None:
        """`nas.training_update(...)`: one step of the mode (see each backend)."""
        self.check_update(kwargs, f"{self.mode} mode (TensorFlow)")
        kwargs.pop("tf", None)
        session = kwargs.pop("session", None)
        if session is not None:
            self.session = session
        self._training_update_impl(session=session, **kwargs)

    def _training_update_impl(self, session: Any = None, **kwargs: Any) -> None:
        """Nothing to do by default (classic, oneshot)."""

    def arch_parameters(self) -> list[tf.Variable]:
        """The architecture weights (darts); empty for modes without any."""
        return []

    # -- helpers shared by the modes ----------------------------------------------------------------

    @property
    def generator(self) -> tf.random.Generator:
        """The random generator of keras-style layers (seeded from the trial's seed on first use)."""
        if self._generator is None:
            with tf.init_scope():
                self._generator = tf.random.Generator.from_seed(self.rng.randrange(2**31))
        return self._generator

    def graph_states(self, session: Any) -> list[Any]:
        """The per-layer states of the graph `session` runs (graph style)."""
        graph = getattr(session, "graph", None)
        return [state for (context, _, _), state in self.states.items() if context is graph and graph is not None]

    def keras_states(self) -> list[Any]:
        """The per-layer states of keras-style layers."""
        return [state for (context, _, _), state in self.states.items() if context is None]

    def need_session(self, session: Any, what: str) -> Any:
        """`session`, or the last one given to `training_update`, or a `TrialError` saying what to pass."""
        session = session or self.session
        if session is None:
            raise TrialError(
                f"{self.mode} mode (TensorFlow graph): {what} needs the session; "
                "call training_update(tf=tf, session=sess) (NNI's form) or pass session="
            )
        return session

