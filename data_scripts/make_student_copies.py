"""Write the student edition of the chapter notebooks (solutions replaced by stubs, outputs cleared, links).

    make student                                               # the same, into $(STUDENT_DIR)
    python data_scripts/make_student_copies.py                 # every chapters/*.ipynb -> _build/student/
    python data_scripts/make_student_copies.py chapters/02_raw_audio_mulaw.ipynb --output handout/

See audioformers.coursework for the rules (cells tagged "solution", "Solution" dropdowns) and the link options
(--colab-repo, --colab-branch, --colab-folder, --web-book).
"""

import sys

from audioformers.coursework import main

if __name__ == "__main__":
    main(["student", *sys.argv[1:]])
