"""Pure logic of tfx-edge: conversion, LiteRT, input mapping, metrics and the gate.

Nothing here knows TFX artifacts; the component executors unwrap artifacts and
call these functions.
"""
