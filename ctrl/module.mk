# ctrl/: the embedded OpenFlow 1.3 controller and OVSDB client.
CTRL_SRCS += ctrl/buf.c ctrl/oferr.c ctrl/ofmatch.c ctrl/ofaction.c ctrl/ofmsg.c
