"""The counselor review application: the queue of flags, their detail, the workflow, alerts and the audit log.

``create_app`` builds the Flask application over a ``Storage``; ``socialwatch review``
serves it (waitress), and ``socialwatch run`` serves it beside the proxy on the
embedded store, which only one process can open.
"""
