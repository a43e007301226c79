"""Reference solutions of the exercises: keep them out of the students' hand-out."""
