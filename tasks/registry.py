"""Task types: which function runs a type, on which queue, with what time limit."""
from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import typing
from typing import Callable

import pydantic

from tasks import TASK_MODULES
from tasks.queues import ALL_QUEUES


@dataclasses.dataclass(frozen=True)
class TaskType:
    name: str
    function: Callable
    queue: str
    job_timeout: int      # seconds; RQ kills a job that runs longer (a hang backstop)
    title: str            # shown in the UI
    main: bool            # may be started by a user as a main task


_TYPES: dict[str, TaskType] = {}


def task_type(name: str, *, queue: str, job_timeout: int, title: str, main: bool = False):
    """Register the decorated function `fn(ctx, **args)` as task type `name`."""
    if queue not in ALL_QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def register(function: Callable) -> Callable:
        _TYPES[name] = TaskType(name, function, queue, job_timeout, title, main)
        return function
    return register


def load_task_modules(extra: tuple[str, ...] = ()) -> None:
    for module in TASK_MODULES + tuple(extra):
        importlib.import_module(module)


def warm_up() -> None:
    """Run each task module's `warm_up()` (one-time compiles and loads) before a worker forks."""
    for module in TASK_MODULES:
        hook = getattr(importlib.import_module(module), "warm_up", None)
        if hook:
            hook()


def get(name: str) -> TaskType:
    if name not in _TYPES:
        load_task_modules()
    try:
        return _TYPES[name]
    except KeyError:
        raise KeyError(f"unknown task type {name!r}") from None


def main_types() -> list[TaskType]:
    load_task_modules()
    return [t for t in _TYPES.values() if t.main]


@functools.cache
def args_model(function: Callable) -> type[pydantic.BaseModel]:
    """A model of the task function's arguments (all but the context), from its annotations.

    Strict: JSON's types must match (no "3" for 3, no list for a string); unknown
    names are refused; the annotations' constraints (e.g. Field(ge=0)) apply.
    """
    hints = typing.get_type_hints(function, include_extras=True)
    fields = {name: (hints.get(name, typing.Any), ... if parameter.default is inspect.Parameter.empty
                     else parameter.default)
              for name, parameter in list(inspect.signature(function).parameters.items())[1:]}
    return pydantic.create_model(f"{function.__name__}_args",
                                 __config__=pydantic.ConfigDict(extra="forbid", strict=True), **fields)


def check_args(spec: TaskType, args: dict) -> dict:
    """The arguments as the task function takes them; TypeError naming each bad one."""
    try:
        return args_model(spec.function).model_validate(args).model_dump()
    except pydantic.ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in error.errors())
        raise TypeError(problems) from None
