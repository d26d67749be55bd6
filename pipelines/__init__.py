"""The demo pipeline (digits CNN) and its runners: local, Beam, Vertex compile."""
