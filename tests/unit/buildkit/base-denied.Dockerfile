FROM 127.0.0.1:5998/team/python-base:3.11
RUN true
