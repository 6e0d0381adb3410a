module github.com/plantcommunity/jsonerrors

go 1.22
