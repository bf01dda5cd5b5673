import App; print("x")
