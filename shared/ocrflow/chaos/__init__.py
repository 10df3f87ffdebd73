"""A tool, never in the function bundle: the chaos runs (:mod:`.run`) — processes killed
mid-call, a broker or store cut, a fleet on the same uploads — counting that every upload
ends in exactly one message and no answer is paid twice."""
