;;; eglot_check.el --- open a Python file with `clip-lint server' under eglot, print what Flymake got
;; emacs --batch -l eglot_check.el FILE, with CLIP_LINT_EGLOT_SNIPPET naming docs/editors.md's snippet.
(unless (require 'eglot nil t)  ; built in from Emacs 29; Debian 12's Emacs 28 has it as elpa-eglot
  (dolist (folder (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/*"))
    (add-to-list 'load-path folder))
  (require 'eglot))
(require 'python)
(load (getenv "CLIP_LINT_EGLOT_SNIPPET"))
(find-file (car command-line-args-left))
(python-mode)
;; the snippet's hook runs `eglot-ensure', which waits for the command loop; batch mode has none
(apply #'eglot (eglot--guess-contact))
(let ((deadline (+ (float-time) 60)))
  (while (and (< (float-time) deadline) (null (flymake-diagnostics)))
    (accept-process-output nil 0.1)))
(when (null (flymake-diagnostics)) (princ "NO DIAGNOSTICS\n"))
(dolist (d (flymake-diagnostics))
  (princ (format "DIAGNOSTIC %d: %s\n" (line-number-at-pos (flymake-diagnostic-beg d)) (flymake-diagnostic-text d))))
(eglot-shutdown (eglot-current-server))
