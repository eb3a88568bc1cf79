~Version ---------------------------------------------------
VERS. 2.0 : CWLS log ASCII Standard -VERSION 2.0
WRAP.  NO : One line per depth step
~Well ------------------------------------------------------
STRT.FT     1200.0 : START DEPTH
STOP.FT     1201.5 : STOP DEPTH
STEP.FT        0.5 : STEP
NULL.      -999.25 : NULL VALUE
COMP.              : COMPANY
WELL.   MYSKA 4 ST : WELL
FLD .              : FIELD
LOC .              : LOCATION
PROV.              : PROVINCE
CNTY.              : COUNTY
STAT.              : STATE
CTRY.              : COUNTRY
SRVC.              : SERVICE COMPANY
DATE.              : DATE
UWI . 42-157-32993 : UNIQUE WELL ID
API .              : API NUMBER
~Curve Information -----------------------------------------
DEPT.FT    : DEPTH
GR  .GAPI  : digitised from track 1, 0 to 150 GAPI linear, solid, ink #00cc00
ILD .OHMM  : Deep induction resistivity; digitised from track 2, 0.2 to 2000 OHMM log, solid
~Params ----------------------------------------------------
SRC   .  myska.tif : SOURCE SCAN PATH
MODEL . veernet-v1 : SEGMENTATION MODEL WEIGHTS
THRESH.        0.5 : CLASS PROBABILITY THRESHOLD SOLID,DASHED
TIERES.FT   0.1235 : RMS RESIDUAL OF THE DEPTH-TIE FIT
~Other -----------------------------------------------------
Curves digitised from a raster scan of a paper log by logdigit.
~ASCII -----------------------------------------------------
 1200.00000   45.50000    2.00000
 1200.50000    -999.25   20.00000
 1201.00000   60.25000    -999.25
 1201.50000   75.00000  200.00000
