"""Actuators: the policy engine's only path to the Docker engine (compose or Swarm)."""

from policy_engine.actuator.docker_actuator import DockerActuator
from policy_engine.actuator.swarm_actuator import SwarmActuator
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
    "SwarmActuator",
]
