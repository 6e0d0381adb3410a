module github.com/plantcommunity/requestid

go 1.22
