"""Wire contracts shared by Relia's components: definitions only, no component imports."""
