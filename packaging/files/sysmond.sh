#!/bin/sh
# sysmond runs from its private virtualenv; -I keeps PYTHONPATH, user site-packages and
# the current directory out of it.
exec /usr/lib/sysmond/bin/python3 -I -m sysmond "$@"
