"""The B2BUA: call legs, forking, bridging with anchored media, the main-number IVR."""
