"""The book's tooling below the commands: notebooks' provenance and cells, the exercise plan, grading in a sandbox."""
