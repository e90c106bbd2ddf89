# ctrl/: the embedded OpenFlow 1.3 controller and OVSDB client.
CTRL_SRCS +=
