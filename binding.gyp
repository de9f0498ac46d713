{"targets":[]}
