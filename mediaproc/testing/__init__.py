"""Test and demo support: generated media (:mod:`.synth`) and a loopback HTTP server (:mod:`.server`).

Shipped in the package because ``mediaproc demo`` builds its example with them.
"""
