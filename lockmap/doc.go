package lockmap
