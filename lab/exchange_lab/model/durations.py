"""Modelled durations, in lab seconds (scaled by ``Clock.speed``).

Every number here is listed with its source or named as a modelling choice in
``lab/README-model.md`` ("Modelling choices and durations").
"""

MOUNT_S = 5.0  # Mount-Database / mount after an activation (choice)
DISMOUNT_S = 3.0  # Dismount-Database (choice)
SWITCHOVER_PER_DATABASE_S = 30.0  # runbooks §3.1 "Estimated 30 s per database"
CLUSTER_NODE_PAUSE_S = 2.0  # Suspend-ClusterNode (choice)
CLUSTER_NODE_RESUME_S = 2.0  # Resume-ClusterNode (choice)
INITIALIZING_S = 15.0  # runbooks §1.1 "Initializing ... normally ~15 s"
COMPONENT_STATE_SET_S = 0.0  # Set-ServerComponentState: registry/AD write, no modelled delay
REDIRECT_MESSAGE_S = 2.0  # Redirect-Message hand-off of the queues (choice)

ALL = {
    "mount": MOUNT_S,
    "dismount": DISMOUNT_S,
    "switchover_per_database": SWITCHOVER_PER_DATABASE_S,
    "cluster_node_pause": CLUSTER_NODE_PAUSE_S,
    "cluster_node_resume": CLUSTER_NODE_RESUME_S,
    "initializing": INITIALIZING_S,
    "component_state_set": COMPONENT_STATE_SET_S,
    "redirect_message": REDIRECT_MESSAGE_S,
}
