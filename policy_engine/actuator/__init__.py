"""Docker actuator: the policy engine's only path to the Docker engine."""

from policy_engine.actuator.docker_actuator import DockerActuator
from policy_engine.actuator.types import (
    ActionOutcome,
    Actuator,
    ContainerChange,
    ContainerInfo,
    RestartParams,
    ScaleParams,
)

__all__ = [
    "ActionOutcome",
    "Actuator",
    "ContainerChange",
    "ContainerInfo",
    "DockerActuator",
    "RestartParams",
    "ScaleParams",
]
